#include "services/agent/docker_engine.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace pier::agent {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string url_encode(const std::string& value) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

DockerEngine::DockerEngine(std::string socket_path, std::string api_version)
    : socket_path_(std::move(socket_path)), api_version_(std::move(api_version)) {
  global_init();
}

Result<EngineResponse> DockerEngine::request(const std::string& method, const std::string& path,
                                             const nlohmann::json& body, long timeout_ms) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Status::Error("docker: cannot initialise libcurl");
  const std::string url = "http://localhost/" + api_version_ + path;
  std::string payload;
  EngineResponse response;
  curl_slist* headers = nullptr;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  if (!body.is_null()) {
    try {
      payload = body.dump();
    } catch (const nlohmann::json::exception& e) {  // a string that is not UTF-8 (validation refuses those)
      return Status::Error(std::string("docker: cannot encode the request to ") + path + ": " + e.what());
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  } else if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  }
  if (headers != nullptr) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (code != CURLE_OK)
    return Status::Error("docker daemon at " + socket_path_ + " unreachable: " + curl_easy_strerror(code));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string DockerEngine::error_text(const EngineResponse& response) {
  if (std::string message = read_error_message(response.body); !message.empty()) return message;
  std::string text = response.body.substr(0, 300);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "HTTP " + std::to_string(response.status) : text;
}

Status DockerEngine::expect(const Result<EngineResponse>& response, std::initializer_list<long> ok_statuses,
                            const std::string& what) const {
  if (!response.ok()) return response.status();
  for (long s : ok_statuses)
    if (response->status == s) return Status::Ok();
  return Status::Error(what + ": " + error_text(*response));
}

Status DockerEngine::ping() const { return expect(request("GET", "/_ping", nullptr, 3000), {200}, "docker ping"); }

Result<bool> DockerEngine::image_exists(const std::string& reference) const {
  auto response = request("GET", "/images/" + reference + "/json");
  if (!response.ok()) return response.status();
  if (response->status == 200) return true;
  if (response->status == 404) return false;
  return Status::Error("inspect image " + reference + ": " + error_text(*response));
}

Status DockerEngine::pull(const std::string& image, const std::string& tag) const {
  auto response =
      request("POST", "/images/create?fromImage=" + url_encode(image) + "&tag=" + url_encode(tag), nullptr, 600'000);
  if (!response.ok()) return response.status();
  const std::string what = "pull " + image + ":" + tag;
  if (response->status != 200) return Status::Error(what + ": " + error_text(*response));
  // A 200 streams progress lines; a failure part-way shows as a line with "error".
  if (auto error = read_pull_error(response->body)) return Status::Error(what + ": " + *error);
  return Status::Ok();
}

Status DockerEngine::ensure_network(const std::string& name, const std::string& subnet,
                                    const std::map<std::string, std::string>& labels, int mtu) const {
  auto existing = request("GET", "/networks/" + url_encode(name));
  if (!existing.ok()) return existing.status();
  if (existing->status == 200) {
    auto network = read_network(existing->body);
    if (!network) return Status::Error("inspect network " + name + ": unreadable answer");
    if (std::find(network->subnets.begin(), network->subnets.end(), subnet) != network->subnets.end())
      return Status::Ok();
    // The registry's subnet is the truth: an unused network of that name made for another subnet (an
    // earlier registry database) is replaced; one that containers still use is not touched.
    if (network->containers_attached)
      return Status::Error("docker network " + name + " has another subnet than " + subnet +
                           " and containers attached; stop them or give the host another id");
    if (Status s = expect(request("DELETE", "/networks/" + url_encode(name)), {204, 404}, "remove network " + name);
        !s.ok())
      return s;
  }
  nlohmann::json body = {{"Name", name},
                         {"Driver", "bridge"},
                         {"CheckDuplicate", true},
                         {"Labels", labels},
                         {"IPAM", {{"Driver", "default"}, {"Config", nlohmann::json::array({{{"Subnet", subnet}}})}}}};
  if (mtu > 0) body["Options"] = {{"com.docker.network.driver.mtu", std::to_string(mtu)}};
  return expect(request("POST", "/networks/create", body), {201}, "create network " + name);
}

Result<std::string> DockerEngine::create_container(const std::string& name, const nlohmann::json& config) const {
  auto response = request("POST", "/containers/create?name=" + url_encode(name), config);
  if (Status s = expect(response, {201}, "create container " + name); !s.ok()) return s;
  auto created = read_created_id(response->body);
  if (!created) return Status::Error("create container " + name + ": no id in the daemon's answer");
  return *created;
}

Status DockerEngine::start_container(const std::string& id) const {
  return expect(request("POST", "/containers/" + id + "/start"), {204, 304}, "start container " + id.substr(0, 12));
}

Status DockerEngine::stop_container(const std::string& id, int grace_s) const {
  return expect(
      request("POST", "/containers/" + id + "/stop?t=" + std::to_string(grace_s), nullptr, (grace_s + 30) * 1000L),
      {204, 304, 404}, "stop container " + id.substr(0, 12));
}

Status DockerEngine::remove_container(const std::string& id) const {
  return expect(request("DELETE", "/containers/" + id + "?force=true&v=true"), {204, 404},
                "remove container " + id.substr(0, 12));
}

Result<nlohmann::json> DockerEngine::inspect_container(const std::string& id) const {
  auto response = request("GET", "/containers/" + id + "/json");
  if (Status s = expect(response, {200}, "inspect container " + id.substr(0, 12)); !s.ok()) return s;
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) return Status::Error("inspect container " + id.substr(0, 12) + ": unreadable answer");
  return parsed;
}

Result<std::vector<ContainerSummary>> DockerEngine::list_containers(const std::string& label) const {
  const nlohmann::json filters = {{"label", nlohmann::json::array({label})}};
  auto response = request("GET", "/containers/json?all=true&filters=" + url_encode(filters.dump()));
  if (Status s = expect(response, {200}, "list containers"); !s.ok()) return s;
  auto listed = read_container_list(response->body);
  if (!listed) return Status::Error("list containers: unreadable answer");
  return *listed;
}

Result<nlohmann::json> DockerEngine::stats(const std::string& id) const {
  auto response = request("GET", "/containers/" + id + "/stats?stream=false", nullptr, 10'000);
  if (Status s = expect(response, {200}, "stats of container " + id.substr(0, 12)); !s.ok()) return s;
  auto parsed = nlohmann::json::parse(response->body, nullptr, false);
  if (parsed.is_discarded()) return Status::Error("stats of container " + id.substr(0, 12) + ": unreadable answer");
  return parsed;
}

}  // namespace pier::agent
